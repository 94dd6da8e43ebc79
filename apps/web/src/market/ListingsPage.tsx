import "../insurance/pages.css";
import { useState } from "react";
import { isAddress } from "ethers";
import type { PageProps } from "../App.tsx";
import { ListingKind, formatDuration, listListings, type ListingKindName, type ListingStatusName } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useContracts } from "../lib/contracts.tsx";
import { Link } from "../lib/router.ts";
import { Address, Badge, ErrorText, Loading } from "../lib/ui.tsx";
import { Field, MARKET_LINKS, SubNav, useParseTokens, useScanRange, useTokens } from "../insurance/shared.tsx";

/** Browse and filter the marketplace's listings (`triad market:listings`). */
export default function ListingsPage(_props: PageProps) {
  const { market } = useContracts();
  const tokens = useTokens();
  const parse = useParseTokens();
  const range = useScanRange();
  const [kind, setKind] = useState<"" | ListingKindName>("");
  const [device, setDevice] = useState("");
  const [seller, setSeller] = useState("");
  const [minPrice, setMinPrice] = useState("");
  const [maxPrice, setMaxPrice] = useState("");
  const [all, setAll] = useState(false);

  const price = (text: string, label: string): { value?: bigint; error?: string } => {
    if (text.trim() === "") return {};
    try {
      return { value: parse(text, label) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  const min = price(minPrice, "the minimum price");
  const max = price(maxPrice, "the maximum price");
  const deviceError = device.trim() !== "" && !isAddress(device.trim()) ? "the device must be a 0x address" : undefined;
  const sellerError = seller.trim() !== "" && !isAddress(seller.trim()) ? "the seller must be a 0x address" : undefined;
  const filterError = min.error ?? max.error ?? deviceError ?? sellerError;
  const statuses: ListingStatusName[] = all ? ["Active", "Paused", "Closed", "TakenDown"] : ["Active"];
  const listings = useAsync(
    async () =>
      filterError
        ? undefined
        : listListings(market, await range(), {
            kind: kind || undefined,
            device: device.trim() || undefined,
            seller: seller.trim() || undefined,
            minPrice: min.value,
            maxPrice: max.value,
            statuses,
          }),
    [market, range, kind, device, seller, min.value, max.value, all, filterError],
  );

  return (
    <section aria-labelledby="listings-heading" data-testid="listings-page">
      <SubNav label="Marketplace" links={MARKET_LINKS} current="/market" />
      <h1 id="listings-heading">Marketplace</h1>
      <p className="muted">Datasets and live streams of device-signed telemetry, each reading verifiable against its on-chain anchor.</p>
      <form
        className="card row"
        role="search"
        aria-label="Filter listings"
        onSubmit={(e) => e.preventDefault()}
        data-testid="listings-filter"
      >
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.target.value as ListingKindName | "")} data-testid="filter-kind">
              <option value="">any</option>
              {ListingKind.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Device">
          {(id) => (
            <input id={id} value={device} placeholder="0x…" onChange={(e) => setDevice(e.target.value)} data-testid="filter-device" />
          )}
        </Field>
        <Field label="Seller">
          {(id) => (
            <input id={id} value={seller} placeholder="0x…" onChange={(e) => setSeller(e.target.value)} data-testid="filter-seller" />
          )}
        </Field>
        <Field label="Price from (tokens)">
          {(id) => (
            <input
              id={id}
              inputMode="decimal"
              value={minPrice}
              onChange={(e) => setMinPrice(e.target.value)}
              data-testid="filter-min-price"
            />
          )}
        </Field>
        <Field label="Price to (tokens)">
          {(id) => (
            <input
              id={id}
              inputMode="decimal"
              value={maxPrice}
              onChange={(e) => setMaxPrice(e.target.value)}
              data-testid="filter-max-price"
            />
          )}
        </Field>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="filter-all" /> include paused and
          closed
        </label>
      </form>
      {filterError && (
        <p className="error" role="alert">
          {filterError}
        </p>
      )}
      <ErrorText error={listings.error} testId="listings-error" />
      {listings.loading && !listings.value && <Loading what="Reading the listings" />}
      {listings.value && (
        <p aria-live="polite" className="muted" data-testid="listings-count">
          {listings.value.length} listing{listings.value.length === 1 ? "" : "s"}
        </p>
      )}
      {listings.value && listings.value.length > 0 && (
        <div className="table-wrap">
          <table data-testid="listings-table">
            <caption className="visually-hidden">Listings</caption>
            <thead>
              <tr>
                <th scope="col">Listing</th>
                <th scope="col">Kind</th>
                <th scope="col">Price</th>
                <th scope="col">Devices</th>
                <th scope="col">Seller</th>
              </tr>
            </thead>
            <tbody>
              {listings.value.map((l) => (
                <tr key={l.listingId.toString()} data-testid={`listing-${l.listingId}`}>
                  <th scope="row">
                    <Link to={`/market/listings/${l.listingId}`} data-testid={`listing-link-${l.listingId}`}>
                      #{l.listingId.toString()}
                    </Link>
                    {l.status !== "Active" && (
                      <>
                        {" "}
                        <Badge>{l.status}</Badge>
                      </>
                    )}
                  </th>
                  <td>{l.kind}</td>
                  <td>
                    {tokens(l.price)}
                    {l.kind === "Stream" && ` per ${formatDuration(l.period)}`}
                  </td>
                  <td>
                    {l.devices.map((d) => (
                      <Address key={d} value={d} copy={false} />
                    ))}
                  </td>
                  <td>
                    <Address value={l.seller} copy={false} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
