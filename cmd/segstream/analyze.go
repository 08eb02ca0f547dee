package main

func init() {
	register("analyze", "run a model on a CSV file and print the fit (--json for JSON)", nil)
}
