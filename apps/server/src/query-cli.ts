#!/usr/bin/env node
// `logstream-query`, installed with the server: the command of @logstream/query, run as it ships.
import '@logstream/query/cli';
