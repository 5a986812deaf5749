import type { ListQuery } from "../api/client";
import { knownLabels, PRIORITIES } from "../inbox";
import type { Session } from "../session";
import type { Priority, Status } from "../types";

interface Props {
  session: Session;
  query: ListQuery;
  onChange: (query: ListQuery) => void;
}

/**
 * The conversation list's filters and order: "Filter by status", "Filter by assignee" (Mine,
 * Unassigned), "Filter by label", "Filter by priority" and "Sort" (newest activity, waiting longest).
 */
export function ListFilters({ session, query, onChange }: Props) {
  const labels = knownLabels(session.store.conversations.values());
  if (query.label !== null && !labels.includes(query.label)) labels.unshift(query.label);
  const set = (change: Partial<ListQuery>) => onChange({ ...query, ...change });
  return (
    <div class="filters">
      <label class="filter">
        <span class="label">Filter by status</span>
        <select
          aria-label="Filter by status"
          value={query.status ?? ""}
          onChange={(e) => set({ status: (e.currentTarget.value || null) as Status | null })}
        >
          <option value="">All</option>
          <option value="active">Active</option>
          <option value="snoozed">Snoozed</option>
          <option value="archived">Archived</option>
          <option value="closed">Closed</option>
        </select>
      </label>
      <label class="filter">
        <span class="label">Filter by assignee</span>
        <select
          aria-label="Filter by assignee"
          value={query.assignee ?? ""}
          onChange={(e) => set({ assignee: (e.currentTarget.value || null) as ListQuery["assignee"] })}
        >
          <option value="">Everyone's</option>
          <option value="me">Mine</option>
          <option value="none">Unassigned</option>
        </select>
      </label>
      <label class="filter">
        <span class="label">Filter by label</span>
        <select
          aria-label="Filter by label"
          value={query.label ?? ""}
          onChange={(e) => set({ label: e.currentTarget.value || null })}
        >
          <option value="">Any label</option>
          {labels.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label class="filter">
        <span class="label">Filter by priority</span>
        <select
          aria-label="Filter by priority"
          value={query.priority ?? ""}
          onChange={(e) => set({ priority: (e.currentTarget.value || null) as Priority | null })}
        >
          <option value="">Any priority</option>
          {PRIORITIES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label class="filter">
        <span class="label">Sort</span>
        <select
          aria-label="Sort"
          value={query.sort}
          onChange={(e) => set({ sort: e.currentTarget.value as ListQuery["sort"] })}
        >
          <option value="updated">Newest activity</option>
          <option value="waiting">Waiting longest</option>
        </select>
      </label>
    </div>
  );
}
