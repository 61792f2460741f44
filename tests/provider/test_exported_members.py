"""The public names, pinned (HTTPX's tests/test_exported_members.py): a name leaves or arrives
only on purpose, and every exported name exists."""

from __future__ import annotations

import provider
import provider.errors


def test_the_package_exports_the_resource_and_its_provider():
    assert provider.__all__ == ["PhoneNumberStorage", "PhoneNumberStorageArgs", "PhoneNumberStorageProvider"]
    for name in provider.__all__:
        assert getattr(provider, name).__name__ == name


def test_every_error_is_exported_from_errors_and_nothing_else_is():
    exported = set(provider.errors.__all__)
    assert len(exported) == len(provider.errors.__all__), "no name twice"
    for name in exported:
        assert hasattr(provider.errors, name), name
    classes = {name for name, value in vars(provider.errors).items()
               if isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")}
    assert classes <= exported, f"not exported: {sorted(classes - exported)}"
    assert exported - classes == {"ERRORS_BY_CODE", "NETWORK_ERRORS_BY_REASON", "UNREACHABLE_REASONS", "cannot_see"}


def test_the_errors_other_modules_raise_are_the_ones_in_the_error_tree():
    """Old import paths keep working, and name the class errors.py defines."""
    from provider.cli.report import GraphUnreachable
    from provider.compliance import PolicyError
    from provider.failures import ConvergeFailed
    from provider.onboard.reading import AccountNotVisible
    from provider.regions import InvalidRegion
    from provider.stackfile import StackFileError
    from provider.windows import WindowError

    errors = provider.errors
    assert (GraphUnreachable, PolicyError, AccountNotVisible, InvalidRegion, StackFileError, WindowError) == (
        errors.GraphUnreachable, errors.PolicyError, errors.AccountNotVisible, errors.InvalidRegion,
        errors.StackFileError, errors.WindowError)
    assert issubclass(errors.InvalidRegion, ValueError) and issubclass(ConvergeFailed, errors.ProviderError)
    assert "ConvergeFailed" in (errors.__doc__ or "") and "UsageError" in (errors.__doc__ or "")
    for name in errors.__all__:  # every class in the tree drawn in the docstring
        if isinstance(getattr(errors, name), type) and name != "Timeout":
            assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in errors.py's docstring"
