package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

/** Enums by constant name (Kryo's default writes the ordinal, which reordering would silently change). */
final class EnumNameSerializer<E extends Enum<E>> extends Serializer<E> {
  private final Class<E> type;

  EnumNameSerializer(Class<E> type) {
    super(false, true);
    this.type = type;
  }

  @Override
  public void write(Kryo kryo, Output output, E value) {
    output.writeString(value.name());
  }

  @Override
  public E read(Kryo kryo, Input input, Class<? extends E> ignored) {
    String name = input.readString();
    try {
      return Enum.valueOf(type, name);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new KryoException("no constant \"" + name + "\" in " + type.getSimpleName(), e);
    }
  }
}
