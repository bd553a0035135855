"""Google Wallet: the loyalty class per program and object per customer (``objects``), made on
Google before the "Add to Google Wallet" link (``savelink``) is handed out (``endpoints``), and
updated when the card changes, coalesced (``service``, ``tasks``); ``client`` speaks to Google."""
