import { container } from 'tsyringe';
import { token } from '../contracts/token';
import { SlotError } from '../errors';
import { resolveSingle } from './resolve-single';

interface Greeter {
  readonly name: string;
}
const GREETER = token<Greeter>('test:Greeter');

describe('resolveSingle', () => {
  it('returns the one registration', () => {
    const child = container.createChildContainer();
    child.register(GREETER, { useValue: { name: 'only' } });
    expect(resolveSingle(child, GREETER, 'greeter').name).toBe('only');
  });

  it('fails naming the slot when nothing is registered', () => {
    const child = container.createChildContainer();
    expect(() => resolveSingle(child, GREETER, 'greeter')).toThrow(SlotError);
    expect(() => resolveSingle(child, GREETER, 'greeter')).toThrow(
      'slot greeter (@vcl/core:test:Greeter) needs exactly one registration, found 0',
    );
  });

  it('fails naming the candidates when several are registered (plain resolve would take the last)', () => {
    class Loud implements Greeter {
      readonly name = 'loud';
    }
    const child = container.createChildContainer();
    child.register(GREETER, { useValue: { name: 'first' } });
    child.register(GREETER, { useValue: new Loud() });
    expect(() => resolveSingle(child, GREETER, 'greeter')).toThrow(
      'slot greeter (@vcl/core:test:Greeter) needs exactly one registration, found 2: first, loud',
    );
  });
});
