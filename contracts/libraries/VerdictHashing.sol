// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IClaimsInsurance} from "../interfaces/IClaimsInsurance.sol";

/// @title VerdictHashing
/// @notice EIP-712 struct hash of the `Verdict` of docs/protocol.md. The digest a member signs is
/// `keccak256("\x19\x01" || domainSeparator || structHash(verdict))` in the ClaimsInsurance domain; the TypeScript
/// twin is `VERDICT_TYPES` in `sdk/eip712.ts`.
library VerdictHashing {
    /// @notice keccak256 of the EIP-712 type string of `Verdict`.
    bytes32 internal constant VERDICT_TYPEHASH = keccak256(
        "Verdict(uint256 claimId,bytes32 evidenceHash,bytes32 modelHash,bool approved,uint256 payout,uint16 scoreBps,uint8 reason,uint64 deadline)"
    );

    /// @notice The EIP-712 `hashStruct` of `verdict`.
    /// @param verdict The verdict.
    /// @return The struct hash.
    function structHash(IClaimsInsurance.Verdict calldata verdict) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                VERDICT_TYPEHASH,
                verdict.claimId,
                verdict.evidenceHash,
                verdict.modelHash,
                verdict.approved,
                verdict.payout,
                verdict.scoreBps,
                verdict.reason,
                verdict.deadline
            )
        );
    }
}
