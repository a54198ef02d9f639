"""Error reports never show secrets, with DEBUG on as well as off."""

from django.views.debug import SafeExceptionReporterFilter

# Packages whose functions hold credentials in local variables: typed and decrypted secrets, passwords,
# certificates and tokens. `sensitive_variables` cannot mark them all: it covers a decorated function and
# what it calls, not the form's clean() that Django calls, nor msal's or cryptography's own frames.
CREDENTIAL_PACKAGES = frozenset({"connections", "msal", "requests_ntlm", "spnego", "cryptography"})


class AlwaysCleansingFilter(SafeExceptionReporterFilter):
    """Django's filter stands down when DEBUG is on; ours keeps hiding sensitive POST fields and variables.

    It hides more than Django's: every local variable of a frame in CREDENTIAL_PACKAGES (a crash while the
    connection form is cleaned would show its cleaned data, the client secret included), and elsewhere any
    POST field, variable or dictionary entry named like a secret (Django's rule for settings: KEY, SECRET,
    PASS, TOKEN...), so that a crash in Django's own form or model code shows no cleaned_data secret either.
    """

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if not parameters or not any(self.hidden_settings.search(name) for name in parameters):
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        package = str(tb_frame.f_globals.get("__name__", "")).partition(".")[0]
        if package in CREDENTIAL_PACKAGES:
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self._cleanse(name, value)) for name, value in variables]

    def _cleanse(self, name, value):
        """Hide a value named like a secret, and such entries of plain dicts, lists and tuples within it."""
        if isinstance(name, str) and self.hidden_settings.search(name):
            return self.cleansed_substitute
        if type(value) is dict:
            return {key: self._cleanse(key, item) for key, item in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self._cleanse("", item) for item in value)
        return value
