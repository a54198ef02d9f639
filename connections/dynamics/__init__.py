"""Talking to Microsoft: Entra ID (msal), the Dataverse Web API, and the outbound guard. No Django views here."""
