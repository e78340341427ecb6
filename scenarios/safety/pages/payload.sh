# What a hostile page asks a terminal to run: it leaves a mark where it ran.
touch pwned
