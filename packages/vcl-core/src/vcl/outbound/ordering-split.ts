import type { Delivery, OrderingProtocol, Ordered, View } from '../../contracts/ordering';
import { isOutboundEvent } from '../session-events';

/** The outbound engine's side of a split ordering member. */
export interface OutboundOrdering {
  /** Broadcasts an outbound event in the group's total order. */
  broadcast(payload: Uint8Array): Promise<Ordered>;
  /** Sets the handler for delivered outbound events. */
  onDeliver(handler: (delivery: Delivery) => void): void;
  /** Sets the handler for installed views. */
  onView(handler: (view: View) => void): void;
  /** The installed view. */
  view(): View | undefined;
}

/**
 * Splits one ordering member between the service-side interceptor and the outbound engine: both
 * share one total order (so a dependency's response lands at the same point relative to client
 * requests at every replica), but each sees only its own events; both see every view.
 */
export function splitOrdering(ordering: OrderingProtocol): { service: OrderingProtocol; outbound: OutboundOrdering } {
  let serviceDeliver: ((d: Delivery) => void) | undefined;
  let outboundDeliver: ((d: Delivery) => void) | undefined;
  let serviceView: ((v: View) => void) | undefined;
  let outboundView: ((v: View) => void) | undefined;
  ordering.onDeliver((d) => (isOutboundEvent(d.payload) ? outboundDeliver?.(d) : serviceDeliver?.(d)));
  ordering.onView((v) => {
    serviceView?.(v);
    outboundView?.(v);
  });
  // A proxy rather than a copy, so methods added to the contract later pass through unchanged.
  const service = new Proxy(ordering, {
    get(target, key) {
      if (key === 'onDeliver') return (h: (d: Delivery) => void) => void (serviceDeliver = h);
      if (key === 'onView') return (h: (v: View) => void) => void (serviceView = h);
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const outbound: OutboundOrdering = {
    broadcast: (payload) => ordering.broadcast(payload),
    onDeliver: (h) => void (outboundDeliver = h),
    onView: (h) => void (outboundView = h),
    view: () => ordering.view(),
  };
  return { service, outbound };
}
