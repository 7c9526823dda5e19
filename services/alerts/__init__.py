"""Alert intake: the signed webhook, the pollers, and the rows that remember what was seen."""
