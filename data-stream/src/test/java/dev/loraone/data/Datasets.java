package dev.loraone.data;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Test helper: reads in-memory dataset text as if it were a named file. */
final class Datasets {

    private Datasets() {}

    static ReadResult read(String fileName, String content, ReadOptions options) throws IOException {
        return read(fileName, content.getBytes(StandardCharsets.UTF_8), options);
    }

    static ReadResult read(String fileName, byte[] content, ReadOptions options) throws IOException {
    return ExampleReader.readAll(
        new ByteArrayInputStream(content), fileName, DataFormat.fromFileName(fileName), options);
    }

    static ReadResult read(String fileName, String content) throws IOException {
        return read(fileName, content, ReadOptions.DEFAULT);
    }
}
