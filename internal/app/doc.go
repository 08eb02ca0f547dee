// Package app is the program's wiring: roles (ingest, scorer, retrainer and all of them in one
// process), ops (the operator HTTP server, limits, metrics registry) and cli (flags with
// environment fallbacks). Everything a binary does beyond parsing flags and printing lives here,
// and nothing below it imports it.
//
// The layout follows the data, bottom to top; a package imports only packages in its own room or
// in a lower layer (layout_test.go checks it on every `make test`):
//
//	 0  models/*, stream/jsonscan     pure statistics and the JSON scanner; no I/O
//	10  stream, redisx, promx, apix   events on Kafka; the Redis idioms, metric constructors, HTTP JSON answers
//	                                  every room shares
//	11  embedded/*                    the embedded Kafka-protocol broker and redis-server
//	20  datasets/*                    event sources: the real data sets, the synthetic shoppers
//	21  features, registry            state in Redis; model bundles
//	30  ingest, retrainer/*           the roles upstream of the scorer
//	31  scorer                        answers and the read API
//	40  analysis                      the course's analyses behind `segstream analyze`
//	50  internal/app/*                wiring
//	51  internal/demo/*               the demo and bench harnesses
//	60  cmd/*                         flags and printing
//
// testkit/* holds the test harnesses (redis-server on a free port, a Redis Cluster, the in-process
// Kafka broker, a headless browser, golden values): only tests import it, and it imports nothing
// under internal/.
package app
