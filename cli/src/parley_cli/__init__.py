"""``parley``: the operator CLI of Parley (connections, accounts, API keys)."""
