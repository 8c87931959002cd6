"""FairTradeWorker: the home-services marketplace API."""
