// Command scorer consumes feature vectors from Kafka and scores every one with the current
// model bundle, keeping live scores and segment membership in Redis, producing score and
// segment-change records, hot-swapping bundles from the registry, and serving the read API.
package main

import "github.com/segstream/segstream/internal/app/roles"

func main() { roles.Main(roles.Scorer()) }
