import { memo, type ReactNode } from 'react';
import { Empty } from './Empty';

export interface Column<T> {
  key: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Right-aligned figures. */
  numeric?: boolean;
  className?: string;
}

interface TableProps<T> {
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  caption: string;
  empty: ReactNode;
  /** Hide the caption visually (the section title says it). @default true */
  hideCaption?: boolean;
}

/** A plain table for the short lists of the snapshot (queues, services, agents); long lists use VirtualTable. */
export function Table<T>({ rows, columns, rowKey, caption, empty, hideCaption = true }: TableProps<T>) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table className="table">
        <caption className={hideCaption ? 'visually-hidden' : undefined}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.key} scope="col" className={`${column.numeric ? 'num' : ''} ${column.className ?? ''}`}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <Row key={rowKey(row)} row={row} columns={columns as readonly Column<unknown>[]} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * One row, drawn again only when its row object changed: the live store keeps unchanged rows'
 * identity across versions, so a patch that touches one job re-renders that job's row alone.
 */
const Row = memo(function Row({ row, columns }: { row: unknown; columns: readonly Column<unknown>[] }) {
  return (
    <tr>
      {columns.map((column) => (
        <td key={column.key} className={`${column.numeric ? 'num' : ''} ${column.className ?? ''}`}>
          {column.cell(row)}
        </td>
      ))}
    </tr>
  );
});
