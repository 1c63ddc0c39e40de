package graph

// The Graph application permissions (app roles) of Intune's enrollment resources: reads need
// Read.All (or ReadWrite.All); sync, update and import need ReadWrite.All. The ids are from
// Microsoft's permissions reference ("All permissions and IDs",
// https://learn.microsoft.com/graph/permissions-reference).
const (
	PermissionRead        = "DeviceManagementServiceConfig.Read.All"
	PermissionReadID      = "06a5fe6d-c49d-46a7-b082-56b1b14103c7"
	PermissionReadWrite   = "DeviceManagementServiceConfig.ReadWrite.All"
	PermissionReadWriteID = "5ac13192-7ace-4fcf-b828-1a26f28068ee"
)
