/**
 * `small-get-under-json-64k`: the latency of small GETs (open loop, 1,000 req/s unless --rate)
 * alone, and while 8 connections keep POSTing 64 KB JSON bodies that json-threat-protection and
 * oas-validation check (issue #6: "a bench shows the p99 of small requests holds while large
 * bodies are being validated"). Always latency mode; gateway rows only.
 */
import { contentionScenario, KIB } from '../lib/json-scenarios.js';

export default contentionScenario({ name: 'small-get-under-json-64k', bodyBytes: 64 * KIB, bodyLabel: '64 KB', connections: 8 });
