// A client's use of the generated types: if openapi-typescript's output
// compiles under --strict and these lookups name real operations, a
// TypeScript app can build against the document.
import type { paths, operations, components } from "./api";

type CitiesAnswer =
  paths["/api/cities"]["get"]["responses"][200]["content"]["application/json"];
type Booking = components["schemas"]["BookRequest"];
type Estimate = operations["estimate_travel_windows"]["responses"][200];

export const cities: CitiesAnswer = [];
export const booking: Partial<Booking> = {};
export type { Estimate };
