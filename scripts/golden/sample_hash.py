#!/usr/bin/python3
"""The hash that chooses the customers of ingest's --samples-share (docs/ingest.md), computed
from its definition: FNV-1a 64 of the id's UTF-8 bytes, then splitmix64's finalizer. Prints the
golden values of features/samples_test.go's TestSampledCustomerHash."""
M = (1 << 64) - 1


def sample_hash(s):
    x = 14695981039346656037
    for b in s.encode():
        x ^= b
        x = (x * 1099511628211) & M
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)


for id in ["c1", "17850", "customer-0042", "", "é"]:
    print(f'{{"{id}", {hex(sample_hash(id))}}},  // {sample_hash(id) / 2**64:.6f}')
