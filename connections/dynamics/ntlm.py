"""Windows integrated authentication (NTLM) to an on-premises Dynamics CRM server, with requests-ntlm.

NTLM authenticates a TCP connection, not a request: the handshake (401, negotiate, challenge,
authenticate) and every later request of the TEST must travel on the same connection. So each TEST gets
a session of its own (guarded, one connection per host, closed at the end): an authenticated connection
in the shared pool could otherwise serve another connection's TEST as this Windows user.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from requests_ntlm import HttpNtlmAuth

from connections.dynamics import http
from connections.dynamics.answers import OnPremAnswer
from connections.dynamics.errors import CheckError
from connections.dynamics.onprem_api import fetch

WINDOWS_SCHEMES = ("ntlm", "negotiate")


class _NtlmAuth(HttpNtlmAuth):
    def _get_server_cert(self, response):
        # requests-ntlm reads the TLS certificate (for channel binding) from the socket of the 401; when that
        # answer had no body the socket is already detached and it would raise AttributeError.
        try:
            return super()._get_server_cert(response)
        except AttributeError:
            return None

    def __repr__(self) -> str:  # never the password, in a traceback or a log
        return f"NtlmAuth(user={self.username!r})"


@contextmanager
def session(user: str, password: str):
    """A BoundedClient whose requests sign in as `user` with NTLM, over this TEST's own connection."""
    own = http.private_session()
    own.auth = _NtlmAuth(user, password)
    try:
        yield http.BoundedClient(own)
    finally:
        own.close()


@dataclass(frozen=True)
class SignIn:
    answer: OnPremAnswer  # the answer to the first request, which carried the handshake
    handshake: bool  # False when the server answered without asking for credentials


def sign_in(client: http.BoundedClient, url: str, user: str) -> SignIn:
    """Send the first request (the NTLM handshake rides on it) and say whether Windows accepted `user`."""
    try:
        answer = fetch(client, url, {})
    except PermissionError as error:  # requests-ntlm: the server never sent its NTLM challenge
        raise CheckError(
            "ntlm_failed",
            "The server started Windows authentication but did not complete the NTLM handshake.",
            "A proxy or load balancer between this app and the server may be breaking the connection NTLM relies "
            "on; check that it keeps connections alive (or reach the server directly).",
        ) from error
    if answer.status == 401 and answer.history:
        raise rejected(user, answer)
    if answer.status == 401:
        raise not_offered(answer)
    return SignIn(answer, handshake=bool(answer.history))


def rejected(user: str, answer: OnPremAnswer) -> CheckError:
    return CheckError(
        "ntlm_rejected",
        f"The server refused the Windows credentials of {user} (HTTP 401 after the NTLM handshake): the user "
        "name or the password is wrong, or the account is locked out or disabled in Active Directory.",
        "Check the User (DOMAIN\\name or name@domain) and the Password. If they are right, ask your Active "
        "Directory administrator whether the account is locked out or its password has expired. A server that "
        "allows Kerberos only (NTLM turned off by policy) refuses NTLM the same way.",
        {"http_status": "401", "user": user, "www_authenticate": answer.www_authenticate[:300]},
    )


def not_offered(answer: OnPremAnswer) -> CheckError:
    offered = answer.www_authenticate or "nothing"
    return CheckError(
        "windows_auth_not_offered",
        f"The server asks for credentials but does not offer Windows authentication (it offers: {offered[:200]}).",
        "If this server signs users in through AD FS (claims-based authentication or IFD), choose the Auth "
        "Scheme ADFS; otherwise ask its administrator to enable Windows authentication for Dynamics CRM in IIS.",
        {"http_status": "401", "www_authenticate": offered[:300]},
    )
