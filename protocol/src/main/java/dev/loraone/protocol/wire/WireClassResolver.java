package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.util.DefaultClassResolver;

/**
 * Kryo's class resolver, minus class names. With registration required Kryo never writes a
 * name, but its reader would still {@code Class.forName} a name found in the bytes before failing
 * the registration check. Refusing the name marker means incoming bytes can only ever pick one of
 * the registered ids: no class is even loaded on a peer's say-so.
 */
final class WireClassResolver extends DefaultClassResolver {
  @Override
  protected Registration readName(Input input) {
    throw new KryoException("class names are not accepted on the wire; only registered class ids are");
  }
}
