"""The built-in live page at ``/`` (issue 7 item 2): park CO2e live, today against target, data
quality, alerts and tickets, for the embedded default where no Grafana runs (clause 9.1)."""
