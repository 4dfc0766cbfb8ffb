package dev.loraone.core.init;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Registry of init strategies by name: {@code lora-one | lora | gaussian | pissa | lora-ga}.
 * Unknown names fail with the list of allowed ones.
 */
public final class LoraInitializers {
  private static final Map<String, LoraInitializer> BY_NAME = new LinkedHashMap<>();

  static {
    for (LoraInitializer i : List.of(new LoraOneInit(), new KaimingUniformInit(), new GaussianInit(), new PissaInit(),
        new LoraGaInit())) {
      BY_NAME.put(i.name(), i);
    }
  }

  private LoraInitializers() {}

  /** The strategy called {@code name} (case-insensitive, surrounding blanks ignored). */
  public static LoraInitializer forName(String name) {
    LoraInitializer i = name == null ? null : BY_NAME.get(name.trim().toLowerCase(Locale.ROOT));
    if (i == null) {
      throw new IllegalArgumentException("unknown init method '" + name + "'; allowed: " + String.join(", ", names()));
    }
    return i;
  }

  /** Allowed names, in registry order. */
  public static List<String> names() {
    return List.copyOf(BY_NAME.keySet());
  }
}
