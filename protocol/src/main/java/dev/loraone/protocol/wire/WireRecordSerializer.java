package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Any wire record: its components in declaration order, read back through the canonical
 * constructor, so the record's own validation runs on the receiving side too.
 *
 * <p>Why not Kryo 5.6's {@code RecordSerializer}: it writes a class id for every non-final
 * component, cannot carry {@code ActorRef}s, and {@code List.of}/{@code Map.of} instances are JDK
 * internals that cannot be registered. Here each component's codec is chosen once from its
 * declared (generic) type:
 *
 * <ul>
 *   <li>primitives and their boxes, {@code String}: written directly;
 *   <li>typed {@code ActorRef}: its serialization-format string, via {@link ActorRefCodec};
 *   <li>{@code List<E>}, {@code Map<K,V>}: size then elements, each with its element codec;
 *       read into an ordinary list or sorted map (the record's constructor makes it immutable);
 *   <li>a final registered class (record, enum, {@code TensorBlob}): its serializer, no class id;
 *   <li>an interface (e.g. a sealed family): registered class id then object, checked on read to
 *       be an instance of the declared type.
 * </ul>
 *
 * Anything else (raw arrays, {@code Object}, unregistered final classes) is refused when the
 * registry is built, not when the first message fails. Nulls are refused on write.
 */
final class WireRecordSerializer<R> extends Serializer<R> {
  private final Class<R> type;
  private final Method[] accessors;
  private final String[] names;
  private final Codec[] codecs;
  private final Constructor<R> constructor;

  WireRecordSerializer(Class<R> type, Set<Class<?>> registered, ActorRefCodec refs) {
    super(false, true);
    if (!type.isRecord()) throw new IllegalArgumentException(type + " is not a record");
    this.type = type;
    RecordComponent[] rc = type.getRecordComponents();
    if (rc.length == 0) {
      // A component-less record costs zero bytes, which would let a forged list length spin forever.
      throw new IllegalArgumentException(type.getName() + ": wire records need at least one component");
    }
    accessors = new Method[rc.length];
    names = new String[rc.length];
    codecs = new Codec[rc.length];
    Class<?>[] params = new Class<?>[rc.length];
    for (int i = 0; i < rc.length; i++) {
      accessors[i] = rc[i].getAccessor();
      accessors[i].setAccessible(true);
      names[i] = type.getSimpleName() + "." + rc[i].getName();
      codecs[i] = codecFor(rc[i].getGenericType(), names[i], registered, refs);
      params[i] = rc[i].getType();
    }
    try {
      constructor = type.getDeclaredConstructor(params);
      constructor.setAccessible(true);
    } catch (NoSuchMethodException e) {
      throw new IllegalArgumentException(type + " has no canonical constructor", e);
    }
  }

  @Override
  public void write(Kryo kryo, Output output, R record) {
    for (int i = 0; i < codecs.length; i++) {
      Object v;
      try {
        v = accessors[i].invoke(record);
      } catch (IllegalAccessException | InvocationTargetException e) {
        throw new KryoException("cannot read " + names[i], e);
      }
      if (v == null) throw new KryoException(names[i] + " is null; wire records carry no nulls");
      codecs[i].write(kryo, output, v);
    }
  }

  @Override
  public R read(Kryo kryo, Input input, Class<? extends R> ignored) {
    Object[] args = new Object[codecs.length];
    for (int i = 0; i < codecs.length; i++) args[i] = codecs[i].read(kryo, input);
    try {
      return constructor.newInstance(args);
    } catch (InvocationTargetException e) {
      throw new KryoException("invalid " + type.getSimpleName() + ": " + e.getCause().getMessage(), e.getCause());
    } catch (ReflectiveOperationException | IllegalArgumentException e) {
      throw new KryoException("cannot construct " + type.getSimpleName(), e);
    }
  }

  /** Fails unless {@code n} more bytes are present, so a forged length never sizes an allocation. */
  static void requireAvailable(Input input, long n, String what) {
    long left = input instanceof SizedInput sized ? sized.remaining() : input.limit() - input.position();
    if (n < 0 || n > left) throw new KryoException(what + ": length " + n + " but only " + left + " bytes left");
  }

  private interface Codec {
    void write(Kryo kryo, Output out, Object v);

    Object read(Kryo kryo, Input in);
  }

  private static Codec codecFor(Type t, String where, Set<Class<?>> registered, ActorRefCodec refs) {
    Class<?> raw = rawClass(t, where);
    if (raw == int.class || raw == Integer.class)
      return codec((k, o, v) -> o.writeVarInt((Integer) v, false), (k, in) -> in.readVarInt(false));
    if (raw == long.class || raw == Long.class)
      return codec((k, o, v) -> o.writeVarLong((Long) v, false), (k, in) -> in.readVarLong(false));
    if (raw == double.class || raw == Double.class)
      return codec((k, o, v) -> o.writeDouble((Double) v), (k, in) -> in.readDouble());
    if (raw == float.class || raw == Float.class)
      return codec((k, o, v) -> o.writeFloat((Float) v), (k, in) -> in.readFloat());
    if (raw == boolean.class || raw == Boolean.class)
      return codec((k, o, v) -> o.writeBoolean((Boolean) v), (k, in) -> in.readBoolean());
    if (raw == String.class) {
      return codec((k, o, v) -> o.writeString((String) v), (k, in) -> {
        String s = in.readString();
        if (s == null) throw new KryoException(where + ": null string");
        return s;
      });
    }
    if (ActorRef.class.isAssignableFrom(raw)) {
      return codec((k, o, v) -> o.writeString(refs.toWire((ActorRef<?>) v)), (k, in) -> {
        String path = in.readString();
        if (path == null) throw new KryoException(where + ": null actor ref");
        return refs.fromWire(path);
      });
    }
    if (raw == List.class) {
      Codec element = codecFor(typeArg(t, 0, where), where + "[]", registered, refs);
      return codec((k, o, v) -> {
        List<?> list = (List<?>) v;
        o.writeVarInt(list.size(), true);
        for (Object e : list) element.write(k, o, e);
      }, (k, in) -> {
        int n = in.readVarInt(true);
        requireAvailable(in, n, where);
        List<Object> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) list.add(element.read(k, in));
        return list;
      });
    }
    if (raw == Map.class) {
      Codec key = codecFor(typeArg(t, 0, where), where + ".key", registered, refs);
      Codec value = codecFor(typeArg(t, 1, where), where + ".value", registered, refs);
      return codec((k, o, v) -> {
        Map<?, ?> map = (Map<?, ?>) v;
        o.writeVarInt(map.size(), true);
        for (Map.Entry<?, ?> e : map.entrySet()) {
          key.write(k, o, e.getKey());
          value.write(k, o, e.getValue());
        }
      }, (k, in) -> {
        int n = in.readVarInt(true);
        requireAvailable(in, n, where);
        Map<Object, Object> map = new TreeMap<>();
        for (int i = 0; i < n; i++) {
          Object kv = key.read(k, in);
          if (map.put(kv, value.read(k, in)) != null) throw new KryoException(where + ": duplicate key " + kv);
        }
        return map;
      });
    }
    if (raw.isArray()) throw new IllegalArgumentException(where + ": wire records carry no raw arrays; use TensorBlob");
    if (raw.isInterface()) {
      if (!raw.isSealed())
        throw new IllegalArgumentException(
            where + ": interface " + raw.getName() + " must be sealed");
      return codec((k, o, v) -> k.writeClassAndObject(o, v), (k, in) -> {
        Object v = k.readClassAndObject(in);
        if (!raw.isInstance(v)) {
          throw new KryoException(where + ": expected a " + raw.getSimpleName() + ", got "
              + (v == null ? "null" : v.getClass().getSimpleName()));
        }
        return v;
      });
    }
    if (Modifier.isFinal(raw.getModifiers()) && registered.contains(raw)) {
      return codec((k, o, v) -> k.writeObject(o, v), (k, in) -> k.readObject(in, raw));
    }
    throw new IllegalArgumentException(where + ": " + raw.getName()
        + " is not a wire type (primitive, String, ActorRef, List, Map, sealed interface or registered final class)");
  }

  private static Class<?> rawClass(Type t, String where) {
    if (t instanceof Class<?> c) return c;
    if (t instanceof ParameterizedType p) return (Class<?>) p.getRawType();
    throw new IllegalArgumentException(where + ": type " + t + " is not concrete");
  }

  private static Type typeArg(Type t, int i, String where) {
    if (t instanceof ParameterizedType p) return p.getActualTypeArguments()[i];
    throw new IllegalArgumentException(where + ": raw collection type; declare its element types");
  }

  private interface Writer {
    void write(Kryo kryo, Output out, Object v);
  }

  private interface Reader {
    Object read(Kryo kryo, Input in);
  }

  private static Codec codec(Writer w, Reader r) {
    return new Codec() {
      @Override
      public void write(Kryo kryo, Output out, Object v) {
        if (v == null) throw new KryoException("null element; wire records carry no nulls");
        w.write(kryo, out, v);
      }

      @Override
      public Object read(Kryo kryo, Input in) {
        return r.read(kryo, in);
      }
    };
  }
}
