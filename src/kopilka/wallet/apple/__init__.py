"""Apple Wallet: the signed storeCard (``pkpass``), the PassKit web service (``endpoints``),
APNs pushes when the card changes (``apns``, ``tasks``)."""
