"""A converge that failed part-way, as data (octoDNS's ``TooMuchChange(why, ...)`` idea).

``ConvergeFailed`` carries where the number was left and what the attempt cost, and renders the
one message a person reads from those fields. ``executor`` is the only place that builds it.
"""

from __future__ import annotations

from typing import Sequence

from .errors import ProviderError
from .regions import describe


class ConvergeFailed(ProviderError):
    """A plan failed part-way. Failures are data (where the number was left, what was tried, what
    it cost); the message is rendered from those fields here, and only here.

    - ``step``: the planned call that failed (``set_pin``, ``deregister``, ``settings``,
      ``register``), or ``readback`` when the plan ran and only reading the number back failed;
    - ``cause``: the Graph error; ``recovery_step``/``recovery_cause`` the call of the recovery
      after a failed ``settings`` that failed too (``settings`` to restore, or ``register``);
    - ``offline``: the number is (or may be) not registered now; ``restored``: a failed
      ``settings`` was undone and the number registered again, so it serves as before;
    - ``storage``: its storage now (a code, ``DEFAULT``, or None when unknown), ``storage_read``
      whether that was read back or is only what was last set;
    - ``calls``: the timestamps of the register/deregister calls this attempt made.
    """

    def __init__(self, number_id: str, *, step: str, cause: BaseException, offline: bool,
                 restored: bool = False, storage: str | None = None, storage_read: bool = True,
                 calls: Sequence[str] = (), ran: Sequence[str] = (), desired: str | None = None,
                 previous: str | None = None, recovery_step: str | None = None,
                 recovery_cause: BaseException | None = None) -> None:
        self.number_id, self.step, self.cause, self.offline, self.restored = number_id, step, cause, offline, restored
        self.storage, self.storage_read, self.calls, self.ran = storage, storage_read, tuple(calls), tuple(ran)
        self.desired, self.previous = desired, previous
        self.recovery_step, self.recovery_cause = recovery_step, recovery_cause
        super().__init__(self._render())

    @property
    def do_not_rerun(self) -> str:
        """Why a person must not simply re-run ("" when re-running after a fix is fine)."""
        return next(filter(None, (getattr(e, "do_not_rerun", "") for e in (self.cause, self.recovery_cause))), "")

    def _render(self) -> str:
        head = f"whatsapp {self.number_id}: "
        stop = f" Do NOT re-run automatically: {self.do_not_rerun}." if self.do_not_rerun else ""
        spent = f" This run made {len(self.calls)} register/deregister calls."
        resume = " Once the cause is fixed, re-running `pulumi up` resumes from the live state."
        if self.step == "readback":
            return (f"{head}the plan ran ({' -> '.join(self.ran)}), so the number should now be registered "
                    f"with storage {describe(self.desired)}, but reading it back failed: {self.cause}. Fix the "
                    "cause, then run `pulumi refresh` to record its live state.")
        if self.step == "set_pin":
            return (f"{head}set_pin failed before the number was deregistered: {self.cause}. Nothing else was "
                    f"changed: it still serves traffic with storage {describe(self.previous)}.{stop}{resume}")
        if self.step == "deregister":
            return f"{head}deregister failed: {self.cause}. {self._after_deregister()}{stop}{resume}"
        if self.step == "settings" and self.restored:
            return (f"{head}settings({self.desired}) failed after deregister: {self.cause}. The number was "
                    f"restored to its previous storage {describe(self.previous)} and registered again, so it "
                    f"serves traffic as before this run. Nothing else changed.{spent}{stop} Fix the cause "
                    "and re-run `pulumi up`.")
        if self.step == "settings" and self.recovery_cause is None:
            return (f"{head}settings failed: {self.cause}. The number was not registered before this run and "
                    f"still is not; its storage is unchanged ({describe(self.previous)}).{stop} Fix the cause "
                    "and re-run.")
        if self.step == "settings" and self.recovery_step == "settings":
            return (f"{head}settings({self.desired}) failed after deregister ({self.cause}), and restoring the "
                    f"previous storage {describe(self.previous)} also failed ({self.recovery_cause}). The number "
                    "is NOT registered: it was left offline rather than registered with storage nobody "
                    f"declared.{stop} Fix the cause, then re-run `pulumi up`, which resumes from the live "
                    f"state.{spent}")
        return self._register_failed(stop, resume)

    def _after_deregister(self) -> str:
        if not self.offline:
            return (f"The number is still registered and serving traffic with storage "
                    f"{describe(self.storage)}; nothing was changed.")
        if not self.storage_read:
            return "Reading it back failed too, so it may be offline: check it in WhatsApp Manager."
        return ("The number is NOT registered (offline: it cannot send or receive messages). Re-running "
                "`pulumi up` registers it again.")

    def _register_failed(self, stop: str, resume: str) -> str:
        """``register`` failed, as planned or after restoring a failed ``settings``."""
        cause = self.recovery_cause if self.step == "settings" else self.cause
        context = f"settings({self.desired}) failed ({self.cause}); " if self.step == "settings" else ""
        storage = describe(self.storage) + ("" if self.storage_read else " (as last set; could not read it back)")
        fix = getattr(cause, "fix", "")
        fix = f" Fix: {fix}." if fix and fix not in str(cause) else ""
        return (f"whatsapp {self.number_id}: {context}register failed: the number is NOT registered (offline: "
                f"it cannot send or receive messages). Current storage: {storage}. Cause: {cause}.{fix}{stop} "
                f"This run made {len(self.calls)} register/deregister calls; Pulumi keeps no outputs from a "
                f"failed run, so count them against the budget yourself.{resume}")
