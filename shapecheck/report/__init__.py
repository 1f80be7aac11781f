"""The report layer: the only place where shapes, facts and findings become text, JSON or SARIF."""
