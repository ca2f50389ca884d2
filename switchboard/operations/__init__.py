"""What operators can see and do, as functions over a Connection: the admin API, the CLI
and the console all call these, so the three never disagree."""
