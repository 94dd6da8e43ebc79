import { createElement, useEffect, useState, type AnchorHTMLAttributes, type ReactNode } from "react";

/**
 * A tiny hash router: the route is the part after "#" ("#/devices/0xab…?tab=anchors" → path "/devices/0xab…",
 * query tab=anchors). Hash routes work on any static host without rewrite rules.
 */
export interface Route {
  /** "/devices/0xab…" ("/" when the hash is empty). */
  path: string;
  /** The path's segments, decoded: ["devices", "0xab…"]. */
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [pathPart, queryPart = ""] = raw.split("?", 2);
  const path = pathPart.startsWith("/") ? pathPart : `/${pathPart}`;
  return { path, parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(queryPart) };
}

/** The current route; re-renders on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** The href of an app path: href("/devices/0xab") → "#/devices/0xab". */
export function href(path: string): string {
  return `#${path.startsWith("/") ? path : `/${path}`}`;
}

/** Goes to an app path (adds a history entry). */
export function navigate(path: string): void {
  location.hash = href(path);
}

/**
 * Matches a path against a pattern with ":name" segments: matchPath("/claims/:id", "/claims/7") → { id: "7" };
 * undefined when it does not match.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/** A link to an app path: <Link to="/devices/0xab">device</Link>. */
export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return createElement("a", { ...rest, href: href(to) }, children);
}
