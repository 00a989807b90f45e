print("gnomond")
