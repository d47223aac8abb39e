"""Test-only helpers shared by the test tiers."""
