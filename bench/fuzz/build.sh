#!/usr/bin/env bash
# Builds the libFuzzer target bench/fuzz/.build/raft-fuzz with swiftc directly: each library
# module the target attacks is compiled with coverage instrumentation (-sanitize=fuzzer) and
# -enable-testing (so the target can reach internal decoders such as DurableLog's record
# parser), then the target links them with libFuzzer's main. -O keeps preconditions and
# overflow checks (only -Ounchecked drops them).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/fuzz/.build
mkdir -p "$out"
flags=(-swift-version 6 -O -g -sanitize=fuzzer -enable-testing -parse-as-library -warnings-as-errors -I "$out" -I Sources/CLibCrypto)

module() { # name, then its source directory
    local name=$1 dir=$2
    swiftc "${flags[@]}" -module-name "$name" -wmo -emit-module -emit-module-path "$out/$name.swiftmodule" \
        -c -o "$out/$name.o" "$dir"/*.swift
}

module BinaryCoding Sources/BinaryCoding
module SeededRandom Sources/SeededRandom
module Consensus Sources/Consensus
module Hashing Sources/Hashing
module TrackerStateMachine Sources/TrackerStateMachine
module TestSupport Tests/TestSupport
module TrackerProtocol Sources/TrackerProtocol
module TrackerHosting Sources/TrackerHosting
module DurableLog Sources/DurableLog

shared=(TestNetwork RoleFixtures HostileMessages HostileDriver)
swiftc "${flags[@]}" -module-name RaftFuzz -wmo -emit-module -emit-module-path "$out/RaftFuzz.swiftmodule" \
    -c -o "$out/RaftFuzz.o" bench/fuzz/*.swift $(printf "Tests/ConsensusTests/%s.swift " "${shared[@]}")
objects=(RaftFuzz BinaryCoding SeededRandom Consensus Hashing TrackerStateMachine TestSupport TrackerProtocol TrackerHosting DurableLog)
swiftc -sanitize=fuzzer -o "$out/raft-fuzz" $(printf "$out/%s.o " "${objects[@]}") -lcrypto
echo "built $out/raft-fuzz"
