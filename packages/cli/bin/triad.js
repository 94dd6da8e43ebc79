#!/usr/bin/env node
// The `triad` command: registers tsx (the CLI is TypeScript, as are the workspace packages it imports) and runs it.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
await main(process.argv.slice(2));
