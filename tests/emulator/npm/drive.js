// Runs every phone-number, registration, settings and business-profile method of the unmodified
// whatsapp-business client against the emulator, in one process, and prints one JSON report:
// [{"step": ..., "method": ..., "ok": bool, "result" | "error": ...}, ...].
//
// whatsapp-business hard-codes https://graph.facebook.com/v17.0 and has no base-URL option, so the
// client's own axios instance is pointed at the emulator (as the pywa test hands pywa an httpx
// transport); the package's code is not changed. v17.0 is retired: the emulator serves it as the
// oldest live version, as Meta does.
"use strict";

const { WABAClient } = require("whatsapp-business");
const http = require("http");

const [url, token, wabaId, ids] = [process.env.EMULATOR_URL, process.env.EMULATOR_TOKEN,
  process.env.WABA_ID, JSON.parse(process.env.NUMBER_IDS)];

function control(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/_emulator${path}`, { method }, (res) => {
      let text = "";
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => resolve(JSON.parse(text)));
    });
    req.on("error", reject);
    req.end();
  });
}

async function main() {
  const client = new WABAClient({ apiToken: token, phoneId: ids.registered, accountId: wabaId });
  client.restClient.fetch.defaults.baseURL = `${url}/v17.0`;
  const report = [];
  async function step(name, method, call) {
    try {
      report.push({ step: name, method, ok: true, result: await call() });
    } catch (err) {
      const e = err && err.code !== undefined ? err : { message: String(err && err.message || err) };
      report.push({ step: name, method, ok: false, error: { code: e.code, message: e.message,
        type: e.type, error_data: e.error_data, fbtrace_id: e.fbtrace_id } });
    }
  }

  await step("list", "getBusinessPhoneNumbers", () => client.getBusinessPhoneNumbers());
  await step("read", "getSingleBusinessPhoneNumber", () => client.getSingleBusinessPhoneNumber(ids.registered));
  await step("profile", "getBusinessProfile", () => client.getBusinessProfile());
  await step("profile-fields", "getBusinessProfile", () => client.getBusinessProfile(["about", "vertical"]));
  await step("update-profile", "updateBusinessProfile", () => client.updateBusinessProfile({
    about: "Open 9-5", vertical: "ALCOHOL", websites: ["https://a.example"] }));
  await step("profile-after", "getBusinessProfile", () => client.getBusinessProfile());
  await step("update-profile-retired-vertical", "updateBusinessProfile",
    () => client.updateBusinessProfile({ vertical: "NOT_A_BIZ" }));
  await step("identity-check", "updateIdentityCheckState",
    () => client.updateIdentityCheckState({ enable_identity_key_check: true }));
  await step("request-code", "requestPhoneNumberVerificationCode", () => client.requestPhoneNumberVerificationCode({
    phoneNumberId: ids.notVerified, code_method: "SMS", language: "en_US" }));
  const code = (await control("GET", `/numbers/${ids.notVerified}`)).verification_code;
  await step("verify-code", "verifyPhoneNumberCode",
    () => client.verifyPhoneNumberCode({ phoneNumberId: ids.notVerified, code }));
  await step("set-pin", "setupTwoStepAuth", () => client.setupTwoStepAuth({ phoneNumberId: ids.notVerified, pin: "246810" }));
  await step("register", "registerPhone", () => client.registerPhone({ phoneNumberId: ids.notVerified, pin: "246810" }));
  await step("deregister", "deregisterPhone", () => client.deregisterPhone(ids.registeredBr));
  await step("register-wrong-pin", "registerPhone",
    () => client.registerPhone({ phoneNumberId: ids.registered, pin: "000000" }));
  await step("deregister-unregistered", "deregisterPhone", () => client.deregisterPhone(ids.unregistered));
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
