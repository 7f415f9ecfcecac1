"""`make bench`: read latency on 100,000 instances, lifecycle rates (engine and HTTP), SQL per action."""
