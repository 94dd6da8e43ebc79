import type { ContractTransactionReceipt, Interface, LogDescription } from "ethers";
import { TriadError } from "../errors.ts";

/** The first `name` event that `contract` emitted in `receipt`; throws when there is none. */
export function findEvent(contract: { interface: Interface }, receipt: ContractTransactionReceipt, name: string): LogDescription {
  for (const log of receipt.logs) {
    try {
      const parsed = contract.interface.parseLog(log);
      if (parsed?.name === name) return parsed;
    } catch {
      // A log of another contract (a token, the pool): not this one's.
    }
  }
  throw new TriadError(`transaction ${receipt.hash} emitted no ${name} event`, "MISSING_EVENT", { hash: receipt.hash });
}
