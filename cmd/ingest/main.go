// Command ingest consumes shopping events from Kafka and keeps every customer's rolling features
// in Redis, exactly once per event, producing the updated feature vectors for the scorer.
// docs/ingest.md lists its flags.
package main

import "github.com/segstream/segstream/internal/app/roles"

func main() { roles.Main(roles.Ingest()) }
