// PERF-02 defect, in Node: the clean node_cli connector, except that `sync` keeps every line it
// would print (records, checkpoints, logs, in order) in memory and writes them all once its work
// is done, so its memory grows with the size of the account instead of staying at one page.
"use strict";

if (process.argv[2] === "sync") {
  const write = process.stdout.write.bind(process.stdout);
  let held = [];
  process.stdout.write = (chunk) => {
    held.push(String(chunk));
    return true;
  };
  process.on("beforeExit", () => {
    if (held.length) write(held.join(""));
    held = [];
  });
}
require("../../clean/node_cli/cli.js");
