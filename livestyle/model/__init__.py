"""The networks (the report's generator and the pyramid around it) and what a weights file says."""
