using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace GroundSharp.Data;

/// <summary>One top-level element of a JSON array file: its 0-based index, its byte range in the file and its bytes.</summary>
public readonly record struct JsonArrayElement(int Index, long Offset, ReadOnlyMemory<byte> Utf8);

/// <summary>
/// Streams the elements of a file whose top level is a JSON array (<c>[ {...}, {...} ]</c>), one element at a
/// time, so that multi-GB files (Visual Genome) are read in memory proportional to the largest element, not to
/// the file. A <see cref="Utf8JsonReader"/> runs over a buffer that is refilled from the stream and doubled
/// only when one element does not fit. Errors name the file and the element index.
/// </summary>
public sealed class JsonArrayReader : IDisposable
{
    /// <summary>Largest single element accepted; a bigger one means the file is not what it claims to be.</summary>
    public const int MaxElementBytes = 256 << 20;

    private readonly Stream _stream;
    private readonly string _name;
    private byte[] _buffer;
    private int _start;            // first unconsumed byte in _buffer
    private int _end;              // end of valid data in _buffer
    private long _bufferOffset;    // file offset of _buffer[0]
    private bool _finalBlock;
    private JsonReaderState _state;
    private bool _inArray;
    private bool _done;
    private int _index;

    public JsonArrayReader(string path, int initialBufferBytes = 64 * 1024)
        : this(OpenRead(path), path, initialBufferBytes) { }

    public JsonArrayReader(Stream stream, string name, int initialBufferBytes = 64 * 1024)
    {
        _stream = stream;
        _name = name;
        _buffer = new byte[Math.Max(initialBufferBytes, 16)];
        _state = new JsonReaderState(new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
    }

    /// <summary>The file (or stream) name used in error messages.</summary>
    public string Name => _name;

    /// <summary>Current size of the internal buffer: grows only with the largest element seen, never with the file.</summary>
    public int BufferCapacity => _buffer.Length;

    /// <summary>Elements returned so far.</summary>
    public int Count => _index;

    /// <summary>Reads the next element; false at the closing bracket. The bytes are valid until the next call.</summary>
    public bool TryReadNext(out JsonArrayElement element)
    {
        element = default;
        if (_done) return false;
        while (true)
        {
            if (_finalBlock && _start == _end && !_inArray) throw Malformed("the file is empty");
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _finalBlock, _state);
            try
            {
                if (!reader.Read())
                {
                    if (_finalBlock) throw Malformed(_inArray ? "the array is not closed (file truncated?)" : "the file is empty");
                    Fill();
                    continue;
                }
                if (!_inArray)
                {
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw Malformed($"the top level must be a JSON array, found {reader.TokenType}");
                    _inArray = true;
                    Consume(ref reader);
                    continue;
                }
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    _done = true;
                    Consume(ref reader);
                    return false;
                }
                long tokenStart = reader.TokenStartIndex;
                if ((reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) && !reader.TrySkip())
                {
                    // The element runs past the buffer: keep the state from before it and read more.
                    if (_finalBlock) throw Malformed("the element is not closed (file truncated?)");
                    Fill();
                    continue;
                }
                int elementStart = _start + (int)tokenStart;
                int elementEnd = _start + (int)reader.BytesConsumed;
                element = new JsonArrayElement(_index, _bufferOffset + elementStart, _buffer.AsMemory(elementStart, elementEnd - elementStart));
                Consume(ref reader);
                _index++;
                return true;
            }
            catch (JsonException e)
            {
                throw Malformed(e.Message, e);
            }
        }
    }

    /// <summary>All elements in order. Each element's bytes are valid only until the enumeration moves on.</summary>
    public IEnumerable<JsonArrayElement> ReadAll()
    {
        while (TryReadNext(out var element)) yield return element;
    }

    /// <summary>Parses an element with a message naming the file and the element index when it is not valid JSON.</summary>
    public JsonDocument Parse(JsonArrayElement element)
    {
        try { return JsonDocument.Parse(element.Utf8); }
        catch (JsonException e) { throw new GroundSharpException($"{_name}: element {element.Index}: not valid JSON: {e.Message}", e); }
    }

    /// <summary>Reads the bytes of an element found earlier (by <see cref="JsonArrayElement.Offset"/> and length) from an open handle.</summary>
    public static byte[] ReadRange(SafeFileHandle handle, long offset, int length, string name)
    {
        var bytes = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
            if (n == 0) throw new GroundSharpException($"{name}: file ended while re-reading bytes {offset}..{offset + length} (did it change while being read?)");
            read += n;
        }
        return bytes;
    }

    private void Consume(ref Utf8JsonReader reader)
    {
        _start += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxElementBytes)
                throw Malformed($"an element is larger than {MaxElementBytes >> 20} MiB");
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, MaxElementBytes));
        }
        int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _finalBlock = true;
        _end += n;
    }

    private GroundSharpException Malformed(string what, Exception? inner = null)
    {
        string where = _inArray ? $"element {_index} (near byte {_bufferOffset + _start})" : "start of file";
        string message = $"{_name}: malformed JSON at {where}: {what}";
        return inner is null ? new GroundSharpException(message) : new GroundSharpException(message, inner);
    }

    private static FileStream OpenRead(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"file not found: {path}");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
    }

    public void Dispose() => _stream.Dispose();
}
