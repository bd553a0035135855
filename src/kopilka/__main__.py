from kopilka.cli import app

app(prog_name="kopilka")
