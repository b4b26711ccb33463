"""Human approval of risky writes: one model (a pending write in a ledger), several channels.

- `model`: the pending write and the server-built `View` of it; `text`: strings rendered as data;
- `store`: the ledger's table; `service`: ask / wait / spend a decision; `page`: the HTML page; `browser`: the
  opener; `channels`: which channel a client gets.
"""
