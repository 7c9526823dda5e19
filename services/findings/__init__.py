"""Investigation: resolving who a responder means, reading everything about the account, and the finding rules."""
