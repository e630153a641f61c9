"""Walmart App Store connections: the provider's apps, consent links and the seller's callback."""
