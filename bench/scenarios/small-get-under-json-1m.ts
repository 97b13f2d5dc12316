/**
 * `small-get-under-json-1m`: as small-get-under-json-64k, with 1 MB JSON bodies on 2 connections:
 * the size at which validating on the worker thread would stall every other request on it, and
 * handing the body to a pool thread should not.
 */
import { contentionScenario, KIB } from '../lib/json-scenarios.js';

export default contentionScenario({ name: 'small-get-under-json-1m', bodyBytes: 1024 * KIB, bodyLabel: '1 MB', connections: 2 });
