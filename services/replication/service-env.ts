// What the supervisor adds to the environment of `hapd service volume` (kept apart from service.ts
// so the supervisor does not load the whole volume service to read it).
/**
 * The volume service's process environment beyond the node's. Its data path allocates a buffer
 * per request (socket chunks, frames), and Bun's allocator (mimalloc) hands freed memory back to
 * the kernel after 10 ms by default, so under sustained I/O most buffers landed on fresh pages:
 * 30–50 thousand page faults per 256 MiB replicated on the Primary, about a quarter of its system
 * time (bench/replication/profile.ts prints the counts). Keeping freed memory for 5 s lets it be
 * reused while I/O goes on; an idle service still returns it.
 */
export const VOLUME_SERVICE_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "5000" };
