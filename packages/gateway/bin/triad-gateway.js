#!/usr/bin/env node
// `triad-gateway <command>`: the gateway CLI (src/cli.ts), run from its TypeScript sources through tsx's ESM loader.
import { register } from "tsx/esm/api";

register();
const { runMain } = await import("../src/cli.ts");
runMain(process.argv.slice(2));
