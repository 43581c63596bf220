using System.Text.Json.Serialization;

namespace Accelerator.P2P.Protocol;

/// <summary>Source-generated System.Text.Json metadata for every P2P message (camelCase, enums as strings).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    MaxDepth = 8,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(HeartbeatRequest))]
[JsonSerializable(typeof(HeartbeatResponse))]
[JsonSerializable(typeof(LeaveRequest))]
[JsonSerializable(typeof(RegisterTaskRequest))]
[JsonSerializable(typeof(RegisterTaskResponse))]
[JsonSerializable(typeof(ScheduleRequest))]
[JsonSerializable(typeof(ScheduleResponse))]
[JsonSerializable(typeof(PieceReportRequest))]
[JsonSerializable(typeof(TaskCompleteRequest))]
[JsonSerializable(typeof(PreheatRequest))]
[JsonSerializable(typeof(PreheatResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class P2PJsonContext : JsonSerializerContext;
