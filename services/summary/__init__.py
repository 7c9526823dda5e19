"""The summary posted after a run: actions and actors, mailbox audit, audit events, Secure Score."""
